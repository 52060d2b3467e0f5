"""Beyond one device: ``seeds x data`` meshes (:mod:`.mesh`), several processes (:mod:`.hosts`)."""
