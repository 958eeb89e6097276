// Flex Consumption (FC1) plan and the Linux function app (Node 22) with a system-assigned identity.
// App settings are applied by appsettings.bicep after the role assignments exist, so the first start
// can already read storage and resolve the Key Vault references.

@description('Function app name (also its host name: <name>.azurewebsites.net).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string

@description('Tags for the plan and the app.')
param tags object = {}

@description('azd service name from azure.yaml; azd finds the app by this tag.')
param serviceName string

@description('Blob endpoint of the storage account, ending in /.')
param storageBlobEndpoint string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Node.js version of the Functions runtime (Flex Consumption runs 22; Node 20 reached end of life on 2026-04-30).')
@allowed([
  '22'
])
param nodeVersion string

@description('Upper bound on instances. Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance in MB (512 is the cheapest; 2048 is the default).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// Basic (user name and password) publishing is off for both FTP and the SCM/Kudu site;
// deployments authenticate with Microsoft Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output principalId string = site.identity.principalId
output defaultHostName string = site.properties.defaultHostName
