"""The Django backend's cache operations in one colour."""
