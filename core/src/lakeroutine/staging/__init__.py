"""The StagingExecutor: landing to staging through an optional transformation, then archive
or delete the originals, with nothing lost or doubled."""
