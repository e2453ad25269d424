"""Where samples come from: built-in dead-leaves scenes, folders of photos, camera RAW files
(through one rawpy reader) and captured RAW/sRGB pairs.
"""
