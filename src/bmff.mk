# (filled in by the bmff work)
