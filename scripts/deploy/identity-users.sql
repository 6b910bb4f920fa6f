-- Azure SQL: a contained database user for each of taskfleet's managed identities, in its role (run by
-- scripts/deploy/03-database-users.sh with sqlcmd -b as the server's Entra administrator, after the migrations).
--
--   <SupervisorUser>  the supervisor's identity  -> <Schema>_supervisor   (sql/migrations/0003_roles.sql)
--   <WorkerUser>      the workers' identity      -> <Schema>_worker
--
-- Each user is made from the identity's client id (CREATE USER … WITH SID, TYPE = E; the SID is the client id as
-- varbinary(16)) rather than FROM EXTERNAL PROVIDER, so the server needs no Microsoft Graph permission to look the
-- identity up.
--
-- sqlcmd variables (:setvar lines the step puts before this file): Schema, SupervisorUser, SupervisorClientId,
-- WorkerUser, WorkerClientId (names and client ids: nothing secret).
--
-- Safe to run again: a user that exists with the same SID, and a role membership that exists, are left alone; a
-- user of that name with another SID (the identity was deleted and made again) is replaced.
:on error exit
SET NOCOUNT ON;
SET XACT_ABORT ON;

DECLARE @users TABLE (name sysname NOT NULL, clientId uniqueidentifier NOT NULL, roleName sysname NOT NULL);
INSERT INTO @users (name, clientId, roleName)
VALUES (N'$(SupervisorUser)', N'$(SupervisorClientId)', N'$(Schema)_supervisor'),
       (N'$(WorkerUser)', N'$(WorkerClientId)', N'$(Schema)_worker');

IF EXISTS (SELECT 1 FROM @users WHERE DATABASE_PRINCIPAL_ID(roleName) IS NULL)
  THROW 50010, N'taskfleet: the roles are missing: deploy the schema first (scripts/deploy/02-deploy-schema.sh)', 1;

DECLARE @name sysname, @clientId uniqueidentifier, @role sysname, @sid varbinary(85), @sql nvarchar(max);
DECLARE users CURSOR LOCAL FAST_FORWARD FOR SELECT name, clientId, roleName FROM @users;
OPEN users;
FETCH NEXT FROM users INTO @name, @clientId, @role;
WHILE @@FETCH_STATUS = 0
BEGIN
  SET @sid = CONVERT(varbinary(16), @clientId);
  IF EXISTS (SELECT 1 FROM sys.database_principals WHERE name = @name AND sid <> @sid)
  BEGIN
    SET @sql = N'DROP USER ' + QUOTENAME(@name) + N';';
    EXEC sys.sp_executesql @sql;
    PRINT N'replaced ' + @name + N' (its identity was made again)';
  END;
  IF DATABASE_PRINCIPAL_ID(@name) IS NULL
  BEGIN
    SET @sql = N'CREATE USER ' + QUOTENAME(@name) + N' WITH SID = ' + CONVERT(nvarchar(70), @sid, 1) + N', TYPE = E;';
    EXEC sys.sp_executesql @sql;
    PRINT N'created user ' + @name;
  END;
  IF ISNULL(IS_ROLEMEMBER(@role, @name), 0) = 0
  BEGIN
    SET @sql = N'ALTER ROLE ' + QUOTENAME(@role) + N' ADD MEMBER ' + QUOTENAME(@name) + N';';
    EXEC sys.sp_executesql @sql;
    PRINT N'added ' + @name + N' to ' + @role;
  END;
  FETCH NEXT FROM users INTO @name, @clientId, @role;
END;
CLOSE users;
DEALLOCATE users;
GO
