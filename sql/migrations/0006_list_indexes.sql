-- The operations list filtered by basket number, whatever the status.

create index payment_requests_basket
    on cvc.payment_requests (point_of_sale_id, basket_number);
