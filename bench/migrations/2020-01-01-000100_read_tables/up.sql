-- The read phase's tables (scripts/bench read): their history is generated in bulk.
CREATE TABLE read_accounts (
    id bigint PRIMARY KEY,
    name varchar(100),
    email text,
    plan text,
    active boolean
);
CREATE TABLE read_posts (
    id bigint PRIMARY KEY,
    account_id bigint,
    title varchar(200),
    body text,
    status text,
    score integer
);
CREATE TABLE read_comments (
    id bigint PRIMARY KEY,
    post_id bigint,
    account_id bigint,
    body text,
    score integer
);
