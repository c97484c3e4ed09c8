-- Runs once, when the PostgreSQL data volume is first initialised: the volume database of the
-- workers (its tables are created by the workers' migrations). Temporal's own databases are created
-- by temporalio/auto-setup with the POSTGRES_USER account.
CREATE USER cinder WITH PASSWORD 'cinder';
CREATE DATABASE cinder OWNER cinder;
