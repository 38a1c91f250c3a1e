"""comet.policies"""
