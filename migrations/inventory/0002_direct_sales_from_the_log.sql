-- Direct sales (DecrStock with items) no longer get a row in inventory_reservations:
-- their order id is already in inventory_logs (type 3 with d_locked = 0), and that is
-- where a rebuild now finds them. One MySQL row per direct sale instead of two halves
-- the syncer's work on the hottest path; the table keeps only LockStock reservations,
-- which need their state (locked/released/confirmed) and lock time.
DELETE FROM inventory_reservations WHERE kind = 2;
ALTER TABLE inventory_reservations
    DROP PRIMARY KEY,
    DROP COLUMN kind,
    ADD PRIMARY KEY (order_id, book_id);
-- The rebuild's lookup of direct sales: type 3 rows of one shape, by order.
CREATE INDEX idx_type_order ON inventory_logs (type, order_id);
