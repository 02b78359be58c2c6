"""The national interface (定点医药机构接口): envelope, transactions, dispatcher."""
