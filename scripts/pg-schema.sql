-- roost's database endpoints: the TechEmpower tables (world, fortune) and the items table
-- of /async-db. Idempotent: drops and recreates. Run with psql -v ON_ERROR_STOP=1 -f.
DROP TABLE IF EXISTS world;
DROP TABLE IF EXISTS fortune;
DROP TABLE IF EXISTS items;

CREATE TABLE world (
    id integer PRIMARY KEY,
    randomnumber integer NOT NULL DEFAULT 0
);
INSERT INTO world (id, randomnumber)
SELECT i, 1 + floor(random() * 10000)::integer FROM generate_series(1, 10000) AS i;

CREATE TABLE fortune (
    id integer PRIMARY KEY,
    message varchar(2048) NOT NULL
);
INSERT INTO fortune (id, message) VALUES
    (1, 'fortune: No such file or directory'),
    (2, 'A computer scientist is someone who fixes things that aren''t broken.'),
    (3, 'After enough decimal places, nobody gives a damn.'),
    (4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'),
    (5, 'A computer program does what you tell it to do, not what you want it to do.'),
    (6, 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen'),
    (7, 'Any program that runs right is obsolete.'),
    (8, 'A list is only as strong as its weakest link. — Donald Knuth'),
    (9, 'Feature: A bug with seniority.'),
    (10, 'Computers make very fast, very accurate mistakes.'),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, 'フレームワークのベンチマーク');

-- /async-db: WHERE price BETWEEN $1 AND $2 LIMIT $3, each row with a nested rating.
CREATE TABLE items (
    id integer PRIMARY KEY,
    name text NOT NULL,
    category text NOT NULL,
    price integer NOT NULL,
    quantity integer NOT NULL,
    active boolean NOT NULL,
    rating_score integer NOT NULL,
    rating_count integer NOT NULL
);
INSERT INTO items
SELECT i, 'item ' || i, (ARRAY['tools', 'books', 'garden', 'toys', 'food'])[1 + i % 5],
       1 + (i * 37) % 1000, (i * 13) % 100, i % 7 <> 0, 1 + i % 5, (i * 11) % 500
FROM generate_series(1, 10000) AS i;
CREATE INDEX items_price ON items (price);
ANALYZE;
