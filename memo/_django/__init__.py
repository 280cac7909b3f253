"""The Django cache backend's internals (`memo.django`, its face, alone imports Django)."""
