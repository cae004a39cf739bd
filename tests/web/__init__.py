"""Tests of the web client (issue #13): in a real browser (Debian's Chromium) and over HTTP."""
