-- Local SQL Server only (infra/docker/compose.yaml, run by schema-init.sh as sa after the migrations): the
-- supervisor's and the workers' SQL logins, each a user of the taskfleet database and a member of its role
-- (<Schema>_supervisor, <Schema>_worker, made by sql/migrations/0003_roles.sql). On Azure the identities are
-- managed identities instead and scripts/deploy/identity-users.sql adds them.
--
-- sqlcmd variables (:setvar lines schema-init.sh puts before this file): Database, Schema, SupervisorLogin,
-- SupervisorPassword, WorkerLogin, WorkerPassword. Safe to run again: a login that exists gets the password from
-- .env again; a user or a role membership that exists is left alone.
:on error exit
SET NOCOUNT ON;

IF SUSER_ID(N'$(SupervisorLogin)') IS NULL
  CREATE LOGIN [$(SupervisorLogin)] WITH PASSWORD = N'$(SupervisorPassword)', DEFAULT_DATABASE = [$(Database)];
ELSE
  ALTER LOGIN [$(SupervisorLogin)] WITH PASSWORD = N'$(SupervisorPassword)';

IF SUSER_ID(N'$(WorkerLogin)') IS NULL
  CREATE LOGIN [$(WorkerLogin)] WITH PASSWORD = N'$(WorkerPassword)', DEFAULT_DATABASE = [$(Database)];
ELSE
  ALTER LOGIN [$(WorkerLogin)] WITH PASSWORD = N'$(WorkerPassword)';
GO

USE [$(Database)];
GO

IF DATABASE_PRINCIPAL_ID(N'$(SupervisorLogin)') IS NULL
  CREATE USER [$(SupervisorLogin)] FOR LOGIN [$(SupervisorLogin)] WITH DEFAULT_SCHEMA = [$(Schema)];
IF DATABASE_PRINCIPAL_ID(N'$(WorkerLogin)') IS NULL
  CREATE USER [$(WorkerLogin)] FOR LOGIN [$(WorkerLogin)] WITH DEFAULT_SCHEMA = [$(Schema)];
GO

-- IS_ROLEMEMBER is NULL when the role is missing: then ALTER ROLE fails and says so (migration 0003 not applied).
IF ISNULL(IS_ROLEMEMBER(N'$(Schema)_supervisor', N'$(SupervisorLogin)'), 0) = 0
  ALTER ROLE [$(Schema)_supervisor] ADD MEMBER [$(SupervisorLogin)];
IF ISNULL(IS_ROLEMEMBER(N'$(Schema)_worker', N'$(WorkerLogin)'), 0) = 0
  ALTER ROLE [$(Schema)_worker] ADD MEMBER [$(WorkerLogin)];
GO
