-- The phone number a shopper gave, to find them in the back office when not signed in.
alter table visitor add column phone text;
