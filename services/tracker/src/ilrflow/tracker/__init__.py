"""The tracker service: trackers and their workflow, tenant tracker settings and permissions."""
