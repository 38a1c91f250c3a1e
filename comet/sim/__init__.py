"""comet.sim"""
