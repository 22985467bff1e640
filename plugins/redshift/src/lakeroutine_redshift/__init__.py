"""lakeroutine-redshift: run SQL, COPY and UNLOAD on Amazon Redshift through the Data API."""
