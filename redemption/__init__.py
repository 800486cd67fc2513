"""The pass: sponsors' orders, booklets and cheques, distribution, redemptions at venues, statements, reports."""
