-- Tenderdesk's own database beside Temporal's, on the same PostgreSQL server.
CREATE ROLE tenderdesk LOGIN PASSWORD 'tenderdesk';
CREATE DATABASE tenderdesk OWNER tenderdesk;
