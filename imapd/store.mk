## imapd fragment: store (sources as IMAPD_STORE += ..., its unit tests and fuzz targets)
