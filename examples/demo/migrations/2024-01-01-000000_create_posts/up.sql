CREATE TABLE posts (
    id serial PRIMARY KEY,
    title text NOT NULL,
    body text,
    score integer NOT NULL DEFAULT 0
);
CREATE TABLE comments (
    id serial PRIMARY KEY,
    post_id integer NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    text text NOT NULL
);
