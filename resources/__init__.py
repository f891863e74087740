"""Data files of the app (icons, sounds, style sheets, translations, fonts); no code.

A package only so that setuptools ships the files; find them with `desktop.resources.resource_path`.
"""
