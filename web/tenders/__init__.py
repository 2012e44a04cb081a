"""Tenders: starting them (wizard), their actions, and the service that talks to their workflows."""
