"""Reliability: concurrent users, crashes, database outages, upgrades, backups, limits (issue 9)."""
