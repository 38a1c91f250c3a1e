"""comet.sweep"""
