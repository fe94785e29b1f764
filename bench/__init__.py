"""The serving benchmark (``make bench``) and the reference servers it measures against."""
