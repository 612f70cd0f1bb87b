"""dSprites: its spec, params, data (renderer and official file) and the logic of its stages."""
