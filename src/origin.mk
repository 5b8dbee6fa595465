# (filled in by the origin work)
