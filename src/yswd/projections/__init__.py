"""Read models fed by events. Each tracks its own position and can be rebuilt from zero."""
