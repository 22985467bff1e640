"""lakeroutine-glue: the AWS Glue Data Catalog, Glue jobs and crawlers from a routine."""
