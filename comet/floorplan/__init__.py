"""comet.floorplan"""
