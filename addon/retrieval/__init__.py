"""Getting originals back: the store, the retrieve tool, and answering its calls."""
