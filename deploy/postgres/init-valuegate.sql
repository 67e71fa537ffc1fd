-- The application's own database beside Temporal's (runs once, on an empty data volume).
CREATE ROLE valuegate LOGIN PASSWORD 'valuegate';
CREATE DATABASE valuegate OWNER valuegate;
