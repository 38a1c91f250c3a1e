"""comet.viz"""
