## imapd fragment: search (sources as IMAPD_SEARCH += ..., its unit tests and fuzz targets)
