CREATE TABLE tags (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE
);
CREATE TABLE post_tags (
    id serial PRIMARY KEY,
    post_id integer NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id integer NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    UNIQUE (post_id, tag_id)
);
