## imapd fragment: cmds (sources as IMAPD_CMDS += ..., its unit tests and fuzz targets)
