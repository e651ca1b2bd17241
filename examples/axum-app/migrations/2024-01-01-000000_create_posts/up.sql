CREATE TABLE posts (
    id serial PRIMARY KEY,
    title text NOT NULL,
    body text
);
