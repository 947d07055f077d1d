## imapd fragment: mime (sources as IMAPD_MIME += ..., its unit tests and fuzz targets)
