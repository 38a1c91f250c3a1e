"""comet.power"""
