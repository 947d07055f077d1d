## imapd fragment: core (sources as IMAPD_CORE += ..., its unit tests and fuzz targets)
