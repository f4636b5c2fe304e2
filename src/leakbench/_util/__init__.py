"""Small leaves every product uses: atomic writes, sizes, JSON field checks, /proc readers."""
