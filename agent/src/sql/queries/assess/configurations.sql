-- Server options the checks look at.
SELECT name, CAST(value_in_use AS int) AS value_in_use
FROM sys.configurations
WHERE name IN (N'xp_cmdshell', N'clr enabled', N'clr strict security');
