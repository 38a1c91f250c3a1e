"""comet.perf"""
