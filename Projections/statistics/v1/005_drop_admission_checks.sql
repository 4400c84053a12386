-- The gateway checks reports and codes against its own snapshot of the master data (MasterDataSnapshot in
-- Sources/MekongGateway, loaded from items_known_at and indicators; docs/gateway.md): one database call per report
-- cost ~10 ms and made the master-data check the gateway's bottleneck. The two functions of 004 have no caller left.
DROP FUNCTION statistics_v1.report_problems(jsonb);
DROP FUNCTION statistics_v1.code_validity(text, text[], date);
