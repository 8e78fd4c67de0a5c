// BGP module: work in progress (placeholder replaced by the module's first real file).
