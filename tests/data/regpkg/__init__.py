"""A tiny package for the registry tests: THINGS is filled by regpkg.things."""
