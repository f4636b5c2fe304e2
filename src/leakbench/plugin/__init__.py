"""The pytest plugin: ``pytest --leaks`` (``hooks``) and the bench fixture (``bench``)."""
