"""The tiled prediction engine: window scheduling, output layout, resume journal and locks."""
