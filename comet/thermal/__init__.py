"""comet.thermal"""
