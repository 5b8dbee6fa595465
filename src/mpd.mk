# (filled in by the mpd work)
